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

// A video shared to the installed app (the manifest's share_target: the form POSTed to ./share by
// the system's share sheet) is kept in a cache of its own (not a version's: it outlives updates)
// and the page, opened at ./?shared, picks it from there. Online or not: the server never sees it.
const SHARED = 'shared-video';

async function receiveShared(request) {
  const form = await request.formData();
  const file = form.getAll('video').find((value) => value instanceof File);
  if (!file) return Response.redirect('./', 303);
  const cache = await caches.open(SHARED);
  const headers = { 'content-type': file.type || 'application/octet-stream', 'x-file-name': encodeURIComponent(file.name) };
  await cache.put(new Request(SHARED), new Response(file, { headers }));
  return Response.redirect('./?shared', 303);
}

// Cached responses keep the server's headers, COOP/COEP and CORP included, so the page stays
// cross-origin isolated (and keeps the mt engine) offline. Everything else goes to the network.
self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method === 'POST' && url.href === new URL('share', self.registration.scope).href) {
    event.respondWith(receiveShared(request));
    return;
  }
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // ignoreVary: the server varies on Accept-Encoding and Origin, which the cache cannot see.
      const cached = await cache.match(request, { ignoreVary: true, ignoreSearch: request.mode === 'navigate' });
      return cached || fetch(request);
    })(),
  );
});
