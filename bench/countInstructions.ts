import { execFile } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The `totals:` line callgrind writes at the end of every dump: the instructions counted since the last one. */
const TOTALS_LINE = /^totals:\s+(\d+)/m;

/** The valgrind arguments that run a server child under callgrind, counting nothing until told to. */
export function callgrindArgs(outDir: string, name: string): string[] {
  return [
    '--tool=callgrind',
    '--instr-atstart=no',
    // Only the total is read; leave out what makes dumps large.
    '--dump-line=no',
    '--compress-strings=yes',
    `--callgrind-out-file=${join(outDir, `${name}.%p`)}`,
    `--log-file=${join(outDir, `${name}.%p.log`)}`,
  ];
}

/**
 * Counts the instructions a callgrind-run process executes while `load` runs.
 *
 * @remarks
 * Switches instrumentation on, runs the load, switches it off and dumps, through `callgrind_control`
 * (valgrind's own tool, which reaches the process over vgdb). Every thread of the process counts: V8's
 * compiler and garbage-collector threads work for the requests too. The dump is read and deleted.
 *
 * @param pid - the process valgrind runs (the pid `fork` returned for it).
 * @param outDir - where the process writes its dumps (see {@link callgrindArgs}).
 * @param load - sends the requests to count.
 */
export async function countInstructions<T>(
  pid: number,
  outDir: string,
  load: () => Promise<T>,
): Promise<{ instructions: number; result: T }> {
  const control = (...args: string[]) => run('callgrind_control', [...args, String(pid)]);
  await control('--zero');
  await control('--instr=on');
  let result: T;
  try {
    result = await load();
  } finally {
    await control('--instr=off');
  }
  await control('--dump');
  const isDump = new RegExp(`\\.${pid}\\.\\d+$`);
  const dumps = (await readdir(outDir)).filter(name => isDump.test(name));
  if (dumps.length === 0) {
    throw new Error(`callgrind wrote no dump for process ${pid} in ${outDir}`);
  }
  // Dumps are numbered; the newest is the one just asked for. Older ones are leftovers of a failed read.
  const newest = dumps.sort((a, b) => dumpNumber(a) - dumpNumber(b))[dumps.length - 1];
  const text = await readFile(join(outDir, newest), 'utf8');
  await Promise.all(dumps.map(name => rm(join(outDir, name), { force: true })));
  const totals = TOTALS_LINE.exec(text);
  if (!totals) {
    throw new Error(`callgrind dump ${newest} has no totals line`);
  }
  return { instructions: Number(totals[1]), result };
}

function dumpNumber(name: string): number {
  return Number(name.slice(name.lastIndexOf('.') + 1)) || 0;
}
