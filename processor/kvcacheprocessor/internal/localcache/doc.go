// Package localcache is the kvcache processor's local cache in front of a
// kvcache.Store: it owns the entries and their freshness rules, the merged bulk
// loads, the write queue and the circuit breaker, and reports what it does
// through Hooks. It knows nothing of telemetry records: the processor computes
// keys, turns values into attributes and counts lookups.
//
// # One entry
//
// An entry is a value read from (or written through to) the store, or, with a
// negative ttl, the store's answer that it has no such key. Its times are set
// when it is loaded (t0 below); ttl, refresh_after, max_stale, negative_ttl and
// fetch_timeout are Config's. State machine of one key:
//
//	absent   --lookup-->                   missing: the batch's missing keys are
//	                                       loaded in one store Get, merged with the
//	                                       loads other batches have in flight
//	missing  --found-->                    fresh (t0 = now)
//	missing  --not found, negative_ttl>0-->  negative
//	missing  --not found, negative_ttl=0-->  absent (every lookup asks again)
//	missing  --error, timeout, open circuit-->  absent
//	fresh    --hit at t0+refresh_after (or t0+ttl without it)-->
//	                                       served; one background reload is claimed
//	                                       (again after fetch_timeout if it fails)
//	fresh    --t0+ttl-->                   stale: still served, counted stale, each
//	                                       hit claims a reload as above
//	stale    --t0+ttl+max_stale-->         absent (otter expires it)
//	reload   --ok-->                       fresh, a new entry with a new t0
//	negative --t0+negative_ttl-->          absent
//	any      --store invalidates its key-->  absent
//	any      --store invalidates all, max_stale=0-->  absent
//	fresh|stale --store invalidates all at ti, max_stale>0-->
//	                                       soft-invalid: served as stale while a
//	                                       reload is claimed, until ti+max_stale;
//	                                       a hit after that drops it (absent)
//	negative --store invalidates all, max_stale>0-->  dropped at its next hit
//
// A written entry (Write) is fresh from the write and lives no longer than the
// TTL it was written with. "Invalidates all" is a generation: entries loaded
// before it are soft-invalid, so that a store outage (Redis loses its
// invalidation channel while it is down) does not empty the cache.
//
// A key over max_key_size is never an entry: Lookup answers KeyTooLarge and
// Write skips it, without copying it (a hostile attribute value must not be
// cached or sent to the store); Write also skips values over max_value_size. The
// entries are bounded by max_entries and by max_bytes (each weighs its key, twice
// its value and a fixed overhead).
//
// Records are judged batch by batch (Batch): every record of a batch at the
// batch's time, each key asked of the local cache once per batch, the batch's
// missing keys fetched together (Fetch) and its claimed reloads started together
// (Finish).
//
// # Store calls
//
// Every store call goes through a circuit breaker (breaker.go): after
// failure_threshold consecutive failures no call is made for open_duration,
// then one probe is let through. Reads (misses, reloads) and writes have one
// breaker each: a store that refuses writes only stops the writes. Misses,
// reloads and writes are bounded by fetch_timeout and cancelled by Close (a call
// cancelled that way is not a store failure); at most max_inflight_loads misses
// and reloads are in flight, each on a goroutine of its own (a miss without a
// slot is NoSlot, a reload waits for a later hit), so that a slow store cannot
// grow goroutines. Writes are queued (bounded, never blocking) and sent in
// batches by one goroutine (writer.go).
package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
