import type { RequestHandler } from 'express';

/** A switched-off step; one shared instance, so that the plugin router can leave it out of its chain. */
export const passThrough: RequestHandler = function passThrough(_req, _res, next) {
  next();
};
