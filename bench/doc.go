// Package bench is the home of the side-by-side peer benchmarks: our components against the
// contrib components they replace, in a module of its own so that the peers stay out of the
// product's go.mod. Every benchmark lives in a sub-package named after what it measures.
package bench
