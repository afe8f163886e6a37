import net from 'node:net';

/**
 * A loopback TCP forwarder: listens on 127.0.0.1:`port` and pipes every connection to `target` ("host:port"). Tests
 * point a service at a port where nothing listens yet (a dependency that is down) and open the proxy later (it is
 * back). Returns close(), which also cuts the open connections.
 */
export async function startTcpProxy(port: number, target: string): Promise<{ close: () => Promise<void> }> {
  const [host, targetPort] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
