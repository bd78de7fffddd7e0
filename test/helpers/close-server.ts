/** Stopping a test's HTTP(S) server at once. */
import type { Server } from 'node:http';

/** Drops every connection (kept-alive ones too) and resolves once the server has closed. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}
