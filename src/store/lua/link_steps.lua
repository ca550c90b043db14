-- Prelude of the scripts that claim a link, change its health or record its verdict
-- (`claim_link.lua`, `apply_health.lua`, `set_link_verified.lua`, and `record_verification.lua`,
-- which runs the three in one step): each step is written once, here. Prepended by `mod.rs`
-- after `outbox_add.lua`, whose functions it calls.

-- Records a link Belvo confirmed as `owner`'s (verified, with product and institution) unless
-- another owner holds it, and keeps it at least `ttl` ms from now. A session's claim keeps its
-- funnel prefix on the link (`funnel`, the first session's; "" = none). Webhooks that came first
-- may have made every resource in `expected` ready: then the claim flags the link
-- (`resources_ready`, which reads them again only then). Returns nil when another owner holds
-- the link, else the funnel field counted ('' = none).
local function claim_link(link, counters, stream, link_id, owner, product, institution, ttl, now,
    funnel, expiry, expected)
  -- Lean (issue 19): each `redis.call` costs Redis more than the work it does, so one read
  -- also says whether the webhooks made every resource ready already.
  local read = {'owner', 'funnel', 'resources_ready'}
  for i = 1, #expected do read[3 + i] = 'res:' .. expected[i] end
  local held = redis.call('HMGET', link, unpack(read))
  if held[1] and held[1] ~= owner then
    return nil
  end
  local fields = {'owner', owner, 'product', product, 'institution', institution, 'verified', '1'}
  if funnel ~= '' and not held[2] then
    fields[9], fields[10] = 'funnel', funnel
  end
  redis.call('HSET', link, unpack(fields))
  -- Kept at least `ttl` from now: a longer expiry stays, a hash without one gets it.
  if redis.call('PEXPIRE', link, ttl, 'GT') == 0 and redis.call('PTTL', link) == -1 then
    redis.call('PEXPIRE', link, ttl)
  end
  if #expected == 0 or held[3] then
    return ''
  end
  for i = 1, #expected do
    local state = held[3 + i]
    if not state or cjson.decode(state)['status'] ~= 'ready' then return '' end
  end
  return resources_ready(stream, link, link_id, expected, now, counters, expiry) or ''
end

-- Records the verification verdict `flag` ("1" or "0") on a link that belongs to `session_id`
-- (a forged claim cannot mark someone else's link). A verdict not yet announced (`verdict`)
-- writes `link.verified` or `link.verification_failed`; a positive one counts the funnel's
-- `link_verified` step, events or not, so once per link. Returns whether the link is the
-- session's (then its waiters are to be woken) and the funnel field counted ('' = none).
local function set_verdict(link, counters, stream, link_id, session_id, flag, now, expiry)
  local f = redis.call('HMGET', link, 'session', 'verdict', 'funnel')
  if f[1] ~= session_id then
    return false, ''
  end
  -- `verified` may already be set by the link's claim: the verdict announced is kept apart.
  if f[2] == flag then
    redis.call('HSET', link, 'verified', flag)
    return true, ''
  end
  redis.call('HSET', link, 'verified', flag, 'verdict', flag)
  local counted, event_type = '', 'link.verification_failed'
  if flag == '1' then
    event_type = 'link.verified'
    counted = count_step(f[3], counters, 'link_verified', expiry)
  end
  link_event(stream, link, link_id, event_type, now, {})
  return true, counted
end

-- Applies one fact to a link's health, atomically (SPEC §11), and derives the health from the
-- three facts kept on the link hash — credentials (`cred_code`, `cred_message`), consent
-- (`consent`, `consent_code`, `consent_message`, with `consent_id`, `consent_due_at`,
-- `consent_changed_at`, `consent_renew`, `consent_record_bad`: SPEC §12), existence (`exist`:
-- `unconfirmed` or `gone`) — the worst winning: gone > consent_expired > needs_reconnect >
-- unavailable > consent_expiring > ok. A change of health is kept in the bounded `history` and,
-- when events go out, writes its `link.*` event (SPEC §13; `HealthTransition::event` in Rust).
-- Mirrors `memory/health.rs`. Never creates a link: an unknown link returns {}.
-- `change` is "credentials_failed", "reconnected", "record", "consent" or "data_arrived";
-- `code` the credentials problem's code, the record's status (valid, invalid, token_required,
-- unconfirmed, missing) or the consent state's reason code; `message` the problem's ("" = none);
-- `consent` (a consent change only) {stored state, id ("" = keep), due date in ms ("" = null,
-- "keep" = unchanged), renewal details as JSON ("" = keep)}.
-- `known`: the caller knows the link exists (it just wrote it), so it is not looked for.
-- Returns {from ("" = never set), to, reason code, reason message}.
local function apply_health(link, history, stream, link_id, change, code, message, now,
    max_history, consent, known)
  if not known and redis.call('EXISTS', link) == 0 then
    return {}
  end

  -- The facts the change looks at and those the health is derived from, read at once (lean:
  -- each `redis.call` costs): when the change writes none of them (`dirty`), as a link check
  -- that finds its record valid mostly does, they are not read again.
  local facts = redis.call('HMGET', link, 'consent', 'exist', 'cred_code', 'consent_record_bad',
    'cred_message', 'consent_code', 'consent_message', 'health', 'health_code')
  local dirty = false
  local function write(...)
    dirty = true
    return redis.call(...)
  end
  local consent_now, exist = facts[1] or '', facts[2]
  local has_problem, record_bad = facts[3] ~= false, facts[4] == '1'
  -- Fields the derived health is written with, in one HSET at the end.
  local also = {}

  local function set_credentials(c, m)
    write('HSET', link, 'cred_code', c, 'cred_message', m)
  end
  local function clear_credentials()
    if has_problem then write('HDEL', link, 'cred_code', 'cred_message') end
  end
  -- SPEC §12: a consent is back to active after a renewal (data flows again, or Belvo's record
  -- reads valid again after reading otherwise).
  local function consent_active()
    write('HSET', link, 'consent', 'active', 'consent_changed_at', now)
    write('HDEL', link, 'consent_code', 'consent_message', 'consent_due_at', 'consent_renew',
      'consent_record_bad')
  end
  local consent_blocked = consent_now == 'consent_expired' or consent_now == 'unavailable'

  if change == 'credentials_failed' then
    set_credentials(code, message)
  elseif change == 'reconnected' then
    clear_credentials()
  elseif change == 'record' then
    also = {'checked_at', now}
    if code ~= 'valid' and code ~= 'missing' and consent_blocked then
      write('HSET', link, 'consent_record_bad', '1')
    end
    if code == 'valid' then
      clear_credentials()
      if consent_blocked and record_bad then
        consent_active()
      end
      if exist == 'unconfirmed' then
        write('HDEL', link, 'exist')
      end
    elseif code == 'invalid' then
      if not has_problem then set_credentials('invalid_link', message) end
    elseif code == 'token_required' then
      if not has_problem then set_credentials('token_required', message) end
    elseif code == 'unconfirmed' then
      if exist ~= 'gone' then write('HSET', link, 'exist', 'unconfirmed') end
    elseif code == 'missing' then
      write('HSET', link, 'exist', 'gone')
    else
      return redis.error_reply('unknown record status ' .. code)
    end
  elseif change == 'consent' then
    local state, consent_id, due, renew = consent[1], consent[2], consent[3], consent[4]
    if state == 'active' then
      write('HDEL', link, 'consent_code', 'consent_message', 'consent_renew')
    else
      write('HSET', link, 'consent_code', code, 'consent_message', message)
    end
    write('HSET', link, 'consent', state, 'consent_changed_at', now)
    write('HDEL', link, 'consent_record_bad')
    if consent_id ~= '' then write('HSET', link, 'consent_id', consent_id) end
    if due == '' then
      write('HDEL', link, 'consent_due_at')
    elseif due ~= 'keep' then
      write('HSET', link, 'consent_due_at', due)
    end
    if renew ~= '' then write('HSET', link, 'consent_renew', renew) end
  elseif change == 'data_arrived' then
    local c = redis.call('HMGET', link, 'consent_changed_at', 'consent_due_at')
    local changed_at, due_at = tonumber(c[1] or '0') or 0, tonumber(c[2] or '')
    if consent_blocked and tonumber(now) >= changed_at then
      consent_active()
    elseif consent_now == 'consent_expiring' and due_at and tonumber(now) > due_at then
      consent_active()
    end
  else
    return redis.error_reply('unknown change ' .. change)
  end

  local f
  if dirty then
    f = redis.call('HMGET', link, 'cred_code', 'cred_message', 'exist', 'consent',
      'consent_code', 'consent_message', 'health', 'health_code')
  else
    f = {facts[3], facts[5], facts[2], facts[1], facts[6], facts[7], facts[8], facts[9]}
  end
  local cred_code, cred_message, exist = f[1] or '', f[2] or '', f[3] or ''
  local consent_state, consent_code, consent_message = f[4] or '', f[5] or '', f[6] or ''
  local from = f[7] or ''

  local to, reason, reason_message = 'ok', '', ''
  if exist == 'gone' then
    to, reason = 'gone', 'link_gone'
  elseif consent_state == 'consent_expired' then
    to, reason, reason_message = 'consent_expired', consent_code, consent_message
  elseif cred_code ~= '' then
    to, reason, reason_message = 'needs_reconnect', cred_code, cred_message
  elseif exist == 'unconfirmed' then
    to, reason = 'unavailable', 'link_unconfirmed'
  elseif consent_state == 'unavailable' then
    to, reason, reason_message = 'unavailable', consent_code, consent_message
  elseif consent_state == 'consent_expiring' then
    to, reason, reason_message = 'consent_expiring', consent_code, consent_message
  end

  local changed = to ~= (from == '' and 'ok' or from)
  if changed then
    also[#also + 1], also[#also + 2] = 'health_changed_at', now
  end
  redis.call('HSET', link, 'health', to, 'health_code', reason, 'health_message', reason_message,
    unpack(also))
  if changed then
    redis.call('LPUSH', history, cjson.encode({at = tonumber(now),
      from = (from == '' and 'ok' or from), to = to, code = reason, message = reason_message}))
    redis.call('LTRIM', history, 0, max_history - 1)
    -- The event a change means: mirrors `HealthTransition::event`.
    local events = {gone = 'link.gone', needs_reconnect = 'link.needs_reconnect',
      consent_expired = 'link.consent_expired', consent_expiring = 'link.consent_expiring'}
    if to == 'ok' and (from == 'needs_reconnect' or from == 'consent_expired') then
      events[to] = 'link.repaired'
    end
    if events[to] then
      link_event(stream, link, link_id, events[to], now, {'health', to, 'reason', reason})
    end
  end
  -- The history lives as long as the link does from now (PEXPIRE does nothing without one).
  local left = redis.call('PTTL', link)
  if left > 0 then
    redis.call('PEXPIRE', history, left)
  end
  return {from, to, reason, reason_message}
end
