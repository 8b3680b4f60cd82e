// The service worker of the page at / : after one visit the page, the browser worker and both
// engine variants come from a cache, so the page makes thumbnails with the server stopped.
// The server serves this file at /sw.js with ASSETS_VERSION replaced by a hash of the assets and
// ASSETS_LIST by the list of them, so a new version of any of them installs a new worker, which
// fills a new cache. It waits while a page of the old version is open (that page keeps the old
// worker and the old cache: never two versions' assets in one page) and takes over, dropping the
// old cache, once none is, or when the page asks (its Reload button posts 'activate').
'use strict';

const VERSION = 'ASSETS_VERSION';
const CACHE = `thumbnailer-${VERSION}`;
// What the server serves (the page, the worker, both engines, ...), listed by the server.
const PRECACHE = ASSETS_LIST;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Fresh from the server, not from the HTTP cache: these are the bytes of this version.
      await cache.addAll(PRECACHE.map((path) => new Request(path, { cache: 'reload' })));
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data === 'activate') self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('thumbnailer-') && name !== CACHE) await caches.delete(name);
      }
    })(),
  );
});

// Cached responses keep the server's headers, COOP/COEP and CORP included, so the page stays
// cross-origin isolated (and keeps the mt engine) offline. Everything else goes to the network.
self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // ignoreVary: the server varies on Accept-Encoding and Origin, which the cache cannot see.
      const cached = await cache.match(request, { ignoreVary: true, ignoreSearch: request.mode === 'navigate' });
      return cached || fetch(request);
    })(),
  );
});
