"""The HTTP layer of the service wing: one request and its reply, and when to retry.

- `reply`: a server's answer read within its size and time caps, and its JSON envelope.
- `attempt`: one HTTP attempt's outcome (a reply, or why there is none, and whether it was
  sent), and the attempts of one logical request.
- `retry_plan`: the one retry mechanism (tenacity): what is retried, how long to wait.
- `transport`: sessions, one attempt in the calling thread, cancelling, the pinned
  loopback address.
- `deadline`: the deadline on a whole attempt, kept at its socket (each read and write
  waits at most the time left), and cancelling by shutting that socket down: no thread
  per attempt.
- `connection`: the urllib3 connections (and the requests adapter mounting them) whose
  sockets keep that deadline.

Rules: this sub-wing knows HTTP, not AI Studios (no endpoint paths, no ids, no lockfile);
it imports only itself and `specsync.service.errors`, and every name another module uses
is public (no leading underscore).
"""
