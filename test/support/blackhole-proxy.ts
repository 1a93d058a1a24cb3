// A TCP proxy that can make its connections half-open: `blackhole()` stops
// forwarding bytes, in both directions, on every connection open at that
// moment, and keeps both of its sockets open: neither peer gets a FIN or an
// RST, not even when the other side closes. That is what a peer that vanished
// looks like (a host powered off, a NAT or firewall that forgot the flow):
// the connection seems alive and nothing arrives. Connections accepted later
// are forwarded normally. Loopback only, no iptables.
import { connect, createServer, type Socket } from 'node:net';

/** One connection through the proxy, as the test sees it. */
export interface ProxiedConnection {
  /** Bytes are no longer forwarded, and closes are no longer passed on. */
  readonly blackholed: boolean;
  /** The client (Envoy) has neither ended nor reset its connection to the proxy. */
  readonly clientOpen: boolean;
  /** The target (the processor) has neither ended nor reset its connection from the proxy. */
  readonly targetOpen: boolean;
}

export interface BlackholeProxy {
  /** host:port to dial instead of the target. */
  readonly address: string;
  /** Every connection accepted so far, oldest first. */
  readonly connections: readonly ProxiedConnection[];
  /** Blackholes every connection open now; returns them. */
  blackhole(): readonly ProxiedConnection[];
  /** Closes the listener and every socket. */
  close(): Promise<void>;
}

interface Pair extends ProxiedConnection {
  blackholed: boolean;
  clientOpen: boolean;
  targetOpen: boolean;
  readonly client: Socket;
  readonly target: Socket;
}

/** A proxy on 127.0.0.1 to `target` (host:port). */
export async function startBlackholeProxy(target: string): Promise<BlackholeProxy> {
  const colon = target.lastIndexOf(':');
  const targetHost = target.slice(0, colon);
  const targetPort = Number(target.slice(colon + 1));
  const pairs: Pair[] = [];

  const server = createServer({ allowHalfOpen: true }, (client) => {
    const pair: Pair = {
      blackholed: false,
      clientOpen: true,
      targetOpen: true,
      client,
      target: connect({ host: targetHost, port: targetPort, allowHalfOpen: true }),
    };
    pairs.push(pair);
    const forward = (from: Socket, to: Socket, fromClient: boolean) => {
      // A blackholed connection still reads (and drops) what arrives, as the
      // network would: the sender's writes complete and nothing comes out.
      from.on('data', (chunk: Buffer) => {
        if (!pair.blackholed) to.write(chunk);
      });
      // The peer is done with the connection when it ends its side (a FIN) or
      // it is gone (an RST): either way the proxy hears of it.
      const closed = () => {
        if (fromClient) pair.clientOpen = false;
        else pair.targetOpen = false;
      };
      from.on('end', () => {
        closed();
        if (!pair.blackholed) to.end();
      });
      from.on('close', () => {
        closed();
        if (!pair.blackholed) to.destroy();
      });
      from.on('error', () => {});
    };
    forward(pair.client, pair.target, true);
    forward(pair.target, pair.client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('the proxy has no port');

  return {
    address: `127.0.0.1:${bound.port}`,
    connections: pairs,
    blackhole: () => {
      const open = pairs.filter((pair) => pair.clientOpen && pair.targetOpen && !pair.blackholed);
      for (const pair of open) pair.blackholed = true;
      return open;
    },
    close: async () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.target.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
