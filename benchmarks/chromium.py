"""The flags of headless Chromium with the network off, shared by the benchmarks' page loads and the
tests' browser checks (the pages, maps and figures must work offline): every host resolves to
nothing and any proxy use hits a closed port. A caller adds its own profile, window and URL."""

CHROMIUM_OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
