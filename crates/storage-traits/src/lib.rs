//! Storage contracts (KV, durable state, object store) shaped after Workers KV, Durable Objects and R2
