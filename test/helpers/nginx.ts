// nginx (Debian's nginx-light, installed by scripts/system-deps.sh test) in front of replicas, as an
// operator's load balancer: WebSockets passed through, each learner kept on one replica by a hash
// of the learner cookie. A replica that stops answering is skipped (nginx's default
// proxy_next_upstream), so its learners reconnect to another: the replicas bench and the browser
// test of a replica's death use it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const NGINX = '/usr/sbin/nginx';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** nginx in front of the replicas: WebSockets passed through, a learner kept on one replica by its cookie. */
export async function startNginx(upstreams: string[]): Promise<{ url: string; stop: () => void }> {
  if (!fs.existsSync(NGINX)) throw new Error(`no nginx at ${NGINX}: run scripts/system-deps.sh test (it installs Debian's nginx-light)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-nginx-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream termlab {
    hash $cookie_tl_learner consistent;
${upstreams.map((u) => `    server ${new URL(u).host};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://termlab;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      # With the port: the page's Origin names it, and the WebSocket origin check compares the two.
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }
  }
}
`);
  const proc = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/api/health`).then((r) => r.ok, () => false)) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, stop: () => { proc.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); } };
}
