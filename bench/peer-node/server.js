// The peer for scripts/bench.sh: the success callback and the status read written the way
// Belvo's Node quickstarts write a backend (Express, one process, ioredis), doing the same Redis
// work as the BFF so the comparison is of the code around it:
// - GET /callbacks/:id/success  runs the BFF's own callback script (src/store/lua/apply_event.lua,
//   as an ioredis custom command: EVALSHA, EVAL on a cache miss) and redirects to the app.
// - GET /v1/widget-sessions/:id  one HGETALL, returned as JSON.
// Like a quickstart it checks only that `link` is present and has no app auth; the BFF does
// more (strict validation, JWT), so this comparison favours the peer.
//
// Environment: PORT, REDIS_URL, KEY_PREFIX (the BFF's store.key_prefix).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const express = require('express');
const Redis = require('ioredis');

const port = Number(process.env.PORT || 8091);
const prefix = process.env.KEY_PREFIX || 'bff';
const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');

redis.defineCommand('applyEvent', {
  numberOfKeys: 3,
  lua: fs.readFileSync(path.join(__dirname, '../../src/store/lua/apply_event.lua'), 'utf8'),
});

// The limits the BFF passes to the script (MAX_EVENTS, MAX_WARNINGS, sessions.retention,
// links.retention).
const MAX_EVENTS = 200;
const MAX_WARNINGS = 50;
const SESSION_RETENTION_MS = 7 * 24 * 3600 * 1000;
const LINK_RETENTION_MS = 400 * 24 * 3600 * 1000;

// A session's or link's shard (src/domain/shard.rs): FNV-1a of the id's 16 bytes, modulo 16;
// its keys carry the shard's tag, as src/store/keys.rs names them.
const shardTag = (id) => {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(id.replace(/-/g, ''), 'hex')) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return `{sh:${String(hash % 16).padStart(2, '0')}}`;
};
const key = (kind, id) => `${prefix}:${shardTag(id)}:${kind}:${id}`;
const sessionKey = (id) => key('session', id);

const app = express();

app.get('/callbacks/:id/success', async (req, res, next) => {
  try {
    const { id } = req.params;
    const { link, institution } = req.query;
    if (!link) {
      return res.status(400).json({ error: 'link is required' });
    }
    const now = Date.now();
    const event = { kind: 'success', link, institution };
    const fingerprint = crypto.createHash('sha256').update(JSON.stringify(event))
      .digest('hex').slice(0, 32);
    // The timeline entry, a JSON object (the script adds its effect).
    const entry = JSON.stringify({ ...event, at: now, source: 'callback' });
    const reply = await redis.applyEvent(
      sessionKey(id), key('timeline', id), key('link', link),
      fingerprint, now, 'succeeded', '', entry, `${prefix}:peer-events`, id,
      MAX_EVENTS, MAX_WARNINGS, '1', SESSION_RETENTION_MS, LINK_RETENTION_MS,
      2, 'link_id', link, 'institution', institution || '',
    );
    if (reply[0] === 'missing') {
      return res.status(404).json({ error: 'session not found' });
    }
    return res.redirect(302, `bffdemo://belvo/success?session_id=${id}&status=${reply[1]}`);
  } catch (err) {
    return next(err);
  }
});

app.get('/v1/widget-sessions/:id', async (req, res, next) => {
  try {
    const session = await redis.hgetall(sessionKey(req.params.id));
    if (Object.keys(session).length === 0) {
      return res.status(404).json({ error: 'session not found' });
    }
    return res.json(session);
  } catch (err) {
    return next(err);
  }
});

app.listen(port, '127.0.0.1', () => {
  console.log(`peer listening on http://127.0.0.1:${port}`);
});
