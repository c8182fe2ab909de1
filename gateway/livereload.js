<script data-gateway-live-reload>
(() => {
  let version = "__VERSION__";  // "<process token>-<change count>" when this page was served
  let connected = false;
  const process = (v) => v.split("-")[0];
  const source = new EventSource("__EVENTS__");
  const read = (event) => JSON.parse(event.data);
  const overlay = (message) => {
    let box = document.getElementById("__gateway_overlay");
    if (!box) {
      box = document.createElement("pre");
      box.id = "__gateway_overlay";
      box.style.cssText = "position:fixed;inset:0;margin:0;padding:2em;z-index:2147483647;" +
        "background:rgba(20,20,20,.94);color:#ff8080;font:14px/1.5 monospace;" +
        "white-space:pre-wrap;overflow:auto";
      document.documentElement.appendChild(box);
    }
    box.textContent = "gateway: the last edit does not build\n\n" + message;
  };
  const clear = () => document.getElementById("__gateway_overlay")?.remove();
  const swapStyles = (paths) => {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"]')];
    const named = links.filter((l) => paths.includes(new URL(l.href, location.href).pathname));
    for (const link of named.length ? named : links) {
      const url = new URL(link.href, location.href);
      url.searchParams.set("__gateway", Date.now());
      link.href = url.href;
    }
  };
  source.addEventListener("hello", (e) => {
    const data = read(e);
    // Changes missed while not connected, or a restarted server: reload. A first hello from
    // another process (prefork workers each count their own changes) only sets the baseline.
    const sameProcess = process(data.version) === process(version);
    const missed = data.version !== version && (connected || sameProcess);
    connected = true;
    version = data.version;
    if (missed) location.reload();
    else if (data.error) overlay(data.error);
    else clear();
  });
  source.addEventListener("reload", () => location.reload());
  source.addEventListener("css", (e) => {
    const data = read(e);
    version = data.version;
    swapStyles(data.paths);
  });
  source.addEventListener("broken", (e) => overlay(read(e).message));
})();
</script>
