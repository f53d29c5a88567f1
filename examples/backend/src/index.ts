import { createBackend } from '@backstage/backend-defaults';
import { httpRouterServiceFactory, rootHttpRouterServiceFactory } from '../../../src';
import { ensureExampleKeys } from './ensureExampleKeys';
import { examplePlugin } from './examplePlugin';
import { startMetricsExporter } from './startMetricsExporter';

ensureExampleKeys();
// Before the backend, so that its instruments are created on the SDK; a taken port ends the process.
startMetricsExporter();

const backend = createBackend();
backend.add(rootHttpRouterServiceFactory);
backend.add(httpRouterServiceFactory);
backend.add(examplePlugin);
backend.start();
