/**
 * The nginx configurations the benchmark compares pws against. Pure text
 * generation: the caller writes the file and starts nginx.
 *
 * @module
 */

/** Options for {@link nginxConfig}. */
export interface NginxConfigOptions {
  /** Directory for the pid file, error log and temp paths. */
  tmpDir: string;
  /** Document root. */
  root: string;
  /** Port to listen on (127.0.0.1 only). */
  port: number;
  /** Configs B and C: add `open_file_cache`. */
  openFileCache: boolean;
  /**
   * Config C: `sendfile off` (and no `tcp_nopush`, which only applies with
   * sendfile): small files are then read into a buffer and written with
   * one `writev` of head and body, where sendfile costs a second syscall.
   */
  sendfileOff?: boolean;
  /**
   * Listen with `ssl` and `http2` (only) on `port`, with this certificate
   * chain and key (PEM files): ALPN offers h2 and http/1.1, as pws does.
   */
  tls?: { cert: string; key: string };
  /**
   * Without `tls`: speak HTTP/2 with prior knowledge (h2c) on the
   * listener, as pws does on plain TCP, for bench/h2_idle.ts.
   */
  h2c?: boolean;
}

/**
 * The `ssl` lines of the server block: TLS 1.2 and 1.3, and sessions kept
 * the way pws's TLS stack (rustls, as Deno sets it up) keeps them: in a
 * server-side cache (TLS 1.2 session ids, TLS 1.3 stateful tickets), no
 * stateless tickets. Everything else (ciphers, curves, 16 KiB records) is
 * nginx's default; kernel TLS is off by default, so there is no sendfile.
 */
function nginxTlsLines(tls: { cert: string; key: string }): string[] {
  return [
    `        ssl_certificate ${tls.cert};`,
    `        ssl_certificate_key ${tls.key};`,
    "        ssl_protocols TLSv1.2 TLSv1.3;",
    "        ssl_session_cache shared:SSL:10m;",
    "        ssl_session_tickets off;",
  ];
}

/**
 * Returns an nginx.conf for one single-process nginx (no master, no daemon)
 * serving `root` on 127.0.0.1:`port`, with sendfile, tcp_nopush, no access
 * log and a high `keepalive_requests`. Config A is this; config B adds
 * `open_file_cache max=1000 inactive=20s; open_file_cache_valid 30s;`;
 * config C is B with `sendfile off`. With `tls`, the one listener speaks
 * HTTPS and HTTP/2 ({@link nginxTlsLines}; nginx 1.22 spells it
 * `listen … ssl http2`, later versions also take `http2 on`).
 */
export function nginxConfig(opts: NginxConfigOptions): string {
  const t = opts.tmpDir;
  const cache = opts.openFileCache
    ? [
      "    open_file_cache max=1000 inactive=20s;",
      "    open_file_cache_valid 30s;",
    ]
    : [];
  return [
    "# Written by bench/run.ts: one process, everything under its temp dir.",
    "daemon off;",
    "master_process off;",
    "worker_processes 1;",
    `pid ${t}/nginx.pid;`,
    // notice: nginx then logs which pid sent it a signal.
    `error_log ${t}/error.log notice;`,
    "events {",
    "    worker_connections 4096;",
    "}",
    "http {",
    "    types {",
    "        text/html html;",
    "        application/octet-stream bin;",
    "    }",
    "    default_type application/octet-stream;",
    "    access_log off;",
    ...(opts.sendfileOff
      ? ["    sendfile off;"]
      : ["    sendfile on;", "    tcp_nopush on;"]),
    "    keepalive_requests 100000;",
    "    keepalive_timeout 65s;",
    ...cache,
    `    client_body_temp_path ${t}/client_body;`,
    `    proxy_temp_path ${t}/proxy;`,
    `    fastcgi_temp_path ${t}/fastcgi;`,
    `    uwsgi_temp_path ${t}/uwsgi;`,
    `    scgi_temp_path ${t}/scgi;`,
    "    server {",
    `        listen 127.0.0.1:${opts.port}${
      opts.tls ? " ssl http2" : opts.h2c ? " http2" : ""
    };`,
    ...(opts.tls ? nginxTlsLines(opts.tls) : []),
    `        root ${opts.root};`,
    "        index index.html;",
    "    }",
    "}",
    "",
  ].join("\n");
}
