// A TCP connection to a port of a pod through the API server's port-forward: one WebSocket per
// connection (study §6: ~16 ms each, 24-30 MiB/s). It enters the pod's network namespace from the
// node, so the session's NetworkPolicy does not stand in its way, and nothing else can use it.
import { Duplex, PassThrough, Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import type { PodRef } from './exec.js';

/** The kubelet's words for "nothing listens there", as the Docker backend's ECONNREFUSED. */
function errorFromKubelet(message: string): NodeJS.ErrnoException {
  const refused = /refused/i.test(message);
  return Object.assign(new Error(`port-forward: ${message.trim()}`), { code: refused ? 'ECONNREFUSED' : 'ECONNRESET' });
}

/**
 * A Duplex that connects as it is returned: writes before the WebSocket opens are held, a failure
 * comes as 'error'. Reading stops (the WebSocket is paused) while the reader is not taking data.
 */
export function dialPod(kc: KubeConfig, ref: PodRef, port: number): Duplex {
  const input = new PassThrough();
  let ws: WebSocket | undefined;
  let closed = false;
  const socket = new Duplex({
    write(chunk: Buffer, _enc, done) { input.write(chunk, () => done()); },
    final(done) { input.end(); done(); },
    read() { ws?.resume(); },
    destroy(err, done) {
      closed = true;
      ws?.terminate();
      input.destroy();
      done(err);
    },
  });
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!socket.push(chunk)) ws?.pause();
      done();
    },
  });
  let errorText = '';
  const errors = new Writable({
    write(chunk: Buffer, _enc, done) {
      // The first frame of each stream is only its port number, which client-node cuts off: empty.
      if (chunk.length === 0) { done(); return; }
      errorText += chunk.toString('utf8');
      socket.destroy(errorFromKubelet(errorText));
      done();
    },
  });
  // disconnectOnErr false: the error channel's text is what reports a refused connection.
  new PortForward(kc, false).portForward(ref.namespace, ref.pod, [port], output, errors, input)
    .then((opened) => {
      const w = opened as unknown as WebSocket;
      ws = w;
      if (closed) { w.terminate(); return; }
      w.once('close', () => { if (!socket.destroyed) socket.push(null); });
      w.once('error', (err) => socket.destroy(Object.assign(err, { code: 'ECONNRESET' })));
    }, (err: Error) => socket.destroy(Object.assign(new Error(`port-forward to ${ref.namespace}/${ref.pod}:${port}: ${err.message}`), { code: 'ECONNREFUSED' })));
  return socket;
}
