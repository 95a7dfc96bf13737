// A plain broadcast server on the `ws` package: the peer gonghui is measured against.
// It speaks gonghui's JSON frames for hello, subscribe, unsubscribe, ping and event, plus
// a `publish` frame the load tester sends; it authenticates nobody and keeps nothing
// but a per-topic counter, so what it costs is the floor of WebSocket fan-out in Node.
//
//   node server.js [PORT]   (default 9090)

const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || process.env.PORT || 9090);
const server = new WebSocketServer({ port, host: '127.0.0.1', maxPayload: 64 * 1024 });
const topics = new Map(); // topic -> { seq, subscribers: Set<ws> }

function topicOf(name) {
  let t = topics.get(name);
  if (!t) {
    t = { seq: 0, subscribers: new Set() };
    topics.set(name, t);
  }
  return t;
}

function reply(ws, id, data) {
  ws.send(JSON.stringify({ type: 'reply', id, ok: true, data }));
}

server.on('connection', (ws) => {
  const mine = new Set();
  ws.on('message', (raw) => {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', error: { code: 'bad_request', message: 'unreadable frame' } }));
      return;
    }
    switch (msg.type) {
      case 'hello':
        reply(ws, msg.id, { user_id: 0, session_id: String(Math.random()).slice(2), topics: [] });
        break;
      case 'subscribe': {
        const t = topicOf(msg.topic);
        t.subscribers.add(ws);
        mine.add(msg.topic);
        reply(ws, msg.id, { seq: t.seq, snapshot: null, reset: false });
        break;
      }
      case 'unsubscribe':
        topicOf(msg.topic).subscribers.delete(ws);
        mine.delete(msg.topic);
        reply(ws, msg.id, {});
        break;
      case 'publish': {
        const t = topicOf(msg.topic);
        t.seq += 1;
        const frame = JSON.stringify({
          type: 'event', topic: msg.topic, seq: t.seq, kind: msg.kind || 'event',
          at: new Date().toISOString(), data: msg.data || {},
        });
        for (const sub of t.subscribers) sub.send(frame);
        reply(ws, msg.id, { seq: t.seq });
        break;
      }
      case 'ping':
        reply(ws, msg.id, {});
        break;
      default:
        ws.send(JSON.stringify({ type: 'error', error: { code: 'bad_request', message: 'unknown type' } }));
    }
  });
  ws.on('close', () => {
    for (const name of mine) topicOf(name).subscribers.delete(ws);
  });
});

server.on('listening', () => console.log(`peer listening on ws://127.0.0.1:${port}`));
