import { createBackend } from '@backstage/backend-defaults';
import { httpRouterServiceFactory, rootHttpRouterServiceFactory } from '../../../src';
import { ensureExampleKeys } from './ensureExampleKeys';
import { examplePlugin } from './examplePlugin';

ensureExampleKeys();

const backend = createBackend();
backend.add(rootHttpRouterServiceFactory);
backend.add(httpRouterServiceFactory);
backend.add(examplePlugin);
backend.start();
