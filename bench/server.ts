import { startServer } from './startServer';
import type { StartedBackend } from './startFactoryBackend';
import type { ChildCommand, ChildReply } from './types';

/*
 * The server child: starts and stops servers when the parent asks, over the fork IPC channel. It
 * exits through process.exit so that `--cpu-prof` gets to write its profile.
 */

const servers = new Map<string, StartedBackend>();

function reply(message: ChildReply) {
  process.send?.(message);
}

async function handle(command: ChildCommand) {
  switch (command.type) {
    case 'start': {
      try {
        const server = await startServer(command.spec);
        servers.set(command.key, server);
        reply({ type: 'started', key: command.key, port: server.port });
      } catch (error) {
        reply({
          type: 'failed',
          key: command.key,
          message: String((error as Error).stack ?? error),
        });
      }
      return;
    }
    case 'stop': {
      const server = servers.get(command.key);
      servers.delete(command.key);
      await server?.stop().catch(() => undefined);
      reply({ type: 'stopped', key: command.key });
      return;
    }
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      reply({ type: 'cpu', key: command.key, userUs: user, systemUs: system });
      return;
    }
    case 'exit': {
      await Promise.all([...servers.values()].map(server => server.stop().catch(() => undefined)));
      process.exit(0);
    }
  }
}

process.on('message', command => void handle(command as ChildCommand));
// The parent going away closes the channel; never outlive it.
process.on('disconnect', () => void handle({ type: 'exit' }));
