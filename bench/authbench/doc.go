// Package authbench benchmarks the auth extensions side by side with their
// peers in one run: bearerauth against contrib's bearertokenauthextension
// (client RoundTripper and PerRPCCredentials, server Authenticate), and the
// azureidentityauth server validator against a plain go-oidc verifier. Each
// RoundTripper benchmark has floor rows (the base with no auth work) in the
// same run. See docs/benchmarks.md for the commands and figures.
package authbench
