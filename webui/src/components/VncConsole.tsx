/** The VM's screen in the browser: noVNC over the hosting peer's websocket relay. */
import { useEffect, useRef, useState } from "react";
import RFB from "@novnc/novnc";
import { Button } from "./ui";

export default function VncConsole({ url, token, title }: { url: string; token: string; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [state, setState] = useState<"connecting" | "connected" | "disconnected">("connecting");
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!box.current) return;
    setState("connecting");
    const r = new RFB(box.current, url, { wsProtocols: ["binary", `qx-token.${token}`], shared: true });
    r.scaleViewport = true;
    r.background = "#09090b";
    let connected = false;
    r.addEventListener("connect", () => {
      connected = true;
      setState("connected");
    });
    r.addEventListener("disconnect", () => {
      setState("disconnected");
      // A connection that never came up is retried a few times by itself.
      if (!connected && attempt < 3) setTimeout(() => setAttempt((a) => a + 1), 1000);
    });
    rfb.current = r;
    return () => {
      r.disconnect();
      rfb.current = null;
    };
  }, [url, token, attempt]);
  return (
    <div className="space-y-2">
      <div className="flex items-center justify-between gap-2 text-xs text-zinc-500">
        <span data-testid="vnc-state">
          {state === "connected" ? "Connected" : state === "connecting" ? "Connecting…" : "Disconnected"} · {title}
        </span>
        <div className="flex gap-2">
          <Button onClick={() => rfb.current?.sendCtrlAltDel()} disabled={state !== "connected"}>
            Ctrl+Alt+Del
          </Button>
          {state === "disconnected" && <Button onClick={() => setAttempt((a) => a + 1)}>Reconnect</Button>}
        </div>
      </div>
      <div ref={box} role="application" aria-label={`Console of ${title}`} className="h-[60vh] min-h-72 w-full overflow-hidden rounded-lg bg-zinc-950" data-testid="vnc" />
    </div>
  );
}
