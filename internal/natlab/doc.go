// Package natlab builds small networks out of Linux network namespaces,
// veth pairs, bridges and nftables NAT rules, so that tests can run real
// `duet serve` and `duet peer` processes behind real NATs on one machine.
//
// A Lab owns its namespaces (all named dl<pid>-<n>-<role>) and the
// processes started in them; Close removes them, and so does an interrupt.
// Nothing is created in, or changed on, the host's own network namespace.
// Build lays out the topology of docs/natlab.md; the scenarios live in this
// package's tests and run with `make natlab` (root only).
package natlab
