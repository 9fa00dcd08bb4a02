// Package kvcachebench measures the kvcache processor's enrichment against contrib's
// attributesprocessor inserting the same attributes, and against a floor: the least
// any enrichment of pdata spans can cost.
package kvcachebench
