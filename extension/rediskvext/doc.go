// Package rediskvext implements the rediskv extension: a provider of the kvcache
// capability (see extension/kvcache) backed by Redis, Redis Cluster or Redis
// Sentinel through rueidis. Reads are one MGET per batch (per hash slot in
// cluster mode, pipelined in one request per node), writes are pipelined
// SET ... PX, and RESP3 client tracking in broadcast mode tells subscribers
// within milliseconds when a key under key_prefix changes in Redis.
package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
