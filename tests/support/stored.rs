//! What a test's Redis holds, read back as text whatever each key's type, shared by the test
//! binaries (`#[path]`): for asserting that a secret never reaches storage.

/// No key under `prefix` holds `value`; answers everything stored there, as text.
pub async fn assert_never_holds(
    conn: &mut impl redis::aio::ConnectionLike,
    prefix: &str,
    value: &str,
) -> String {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(conn)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the test stored something under {prefix}");
    let mut all = String::new();
    for key in keys {
        let stored = stored_text(conn, &key).await;
        assert!(!stored.contains(value), "{key} holds it");
        all.push_str(&stored);
    }
    all
}

/// Every value stored under `key`, as text, whatever the key's type.
async fn stored_text(conn: &mut impl redis::aio::ConnectionLike, key: &str) -> String {
    fn flatten(value: redis::Value, out: &mut String) {
        match value {
            redis::Value::BulkString(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
            redis::Value::SimpleString(s) => out.push_str(&s),
            redis::Value::Array(items) | redis::Value::Set(items) => {
                items.into_iter().for_each(|v| flatten(v, out))
            }
            redis::Value::Map(pairs) => pairs.into_iter().for_each(|(k, v)| {
                flatten(k, out);
                flatten(v, out);
            }),
            other => out.push_str(&format!("{other:?}")),
        }
        out.push('\n');
    }
    let kind: String = redis::cmd("TYPE").arg(key).query_async(conn).await.unwrap();
    let mut cmd = match kind.as_str() {
        "string" => redis::cmd("GET"),
        "hash" => redis::cmd("HGETALL"),
        "list" => redis::cmd("LRANGE"),
        "set" => redis::cmd("SMEMBERS"),
        "zset" => redis::cmd("ZRANGE"),
        "stream" => redis::cmd("XRANGE"),
        _ => return String::new(),
    };
    cmd.arg(key);
    match kind.as_str() {
        "list" | "zset" => {
            cmd.arg(0).arg(-1);
        }
        "stream" => {
            cmd.arg("-").arg("+");
        }
        _ => {}
    }
    let value: redis::Value = cmd.query_async(conn).await.unwrap();
    let mut out = String::new();
    flatten(value, &mut out);
    out
}
