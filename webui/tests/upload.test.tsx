import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { ApiError } from "../src/api/client";
import { uploadFile } from "../src/lib/upload";
import { UploadProgress } from "../src/components/UploadProgress";
import { guessKind } from "../src/components/UploadImage";
import Storage from "../src/pages/Storage";
import { mockApi, page, type Call } from "./mockapi";
import { loginAs, renderAt } from "./render";

/** A scriptable XMLHttpRequest: the test drives progress and the answer. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  statusText = "";
  responseText = "";
  withCredentials = false;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true });
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const file = (n: number, name = "tiny.iso") => new File([new Uint8Array(n)], name);

describe("uploadFile", () => {
  it("PUTs the bytes with the CSRF header and reports progress", async () => {
    loginAs("operator");
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const seen: number[] = [];
    const p = uploadFile<{ sha256: string }>("/images/i1/content", file(100), { onProgress: (e) => seen.push(e.loaded) });
    const xhr = FakeXhr.last!;
    expect([xhr.method, xhr.url]).toEqual(["PUT", "/api/v1/images/i1/content"]);
    expect(xhr.headers["X-CSRF-Token"]).toBe("csrf-1");
    xhr.progress(40, 100);
    xhr.answer(200, { sha256: "ab" });
    expect((await p).sha256).toBe("ab");
    expect(seen).toEqual([40, 100]);
  });

  it("turns an error answer into an ApiError with its code", async () => {
    loginAs("operator");
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const p = uploadFile("/images/i1/content", file(10));
    FakeXhr.last!.answer(422, { code: "checksum_mismatch", message: "sha256 differs", details: {} });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("checksum_mismatch");
    expect((err as ApiError).status).toBe(422);
  });
});

describe("UploadProgress", () => {
  it("shows the bar, then the checksum, or the error", () => {
    const { rerender } = render(<UploadProgress state={{ phase: "uploading", loaded: 256, total: 1024 }} />);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("25");
    rerender(<UploadProgress state={{ phase: "done", total: 1024, sha256: "f00d" }} />);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    expect(screen.getByRole("status").textContent).toContain("f00d");
    rerender(<UploadProgress state={{ phase: "error", error: new ApiError(413, "too_large", "too big") }} />);
    expect(screen.getByRole("alert").textContent).toContain("too big");
  });

  it("guesses the kind from the file name", () => {
    expect(["a.ISO", "vmlinuz-6.1", "initrd.img", "disk.qcow2"].map(guessKind)).toEqual(["iso", "kernel", "initrd", "disk"]);
  });
});

describe("storage upload", () => {
  it("creates the image record, uploads the file and shows it ready", async () => {
    loginAs("operator");
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const images: Record<string, unknown>[] = [];
    const api = mockApi({
      "/pools": page([{ id: "local", path: "/srv/q", shared: false }]),
      "/volumes": page([]),
      "/images": () => ({ body: page(images) }),
      "POST /images": (c: Call) => {
        images.push({ id: "i1", ...(c.body as object), state: "pending" });
        return { status: 201, body: images[0] };
      },
    });
    renderAt("/storage", { "/storage": <Storage /> });
    fireEvent.click(await screen.findByRole("button", { name: /Upload/ }));
    fireEvent.change(screen.getByLabelText("File"), { target: { files: [file(2048)] } });
    expect((screen.getByLabelText("Kind") as HTMLSelectElement).value).toBe("iso");
    fireEvent.click(screen.getAllByRole("button", { name: /Upload/ }).at(-1)!);
    await waitFor(() => expect(FakeXhr.last?.url).toBe("/api/v1/images/i1/content"));
    expect(api.calls.find((c) => c.method === "POST")?.body).toEqual({ name: "tiny.iso", kind: "iso", pool: "local", size_bytes: 2048 });
    FakeXhr.last!.progress(1024, 2048);
    await waitFor(() => expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("50"));
    images[0] = { ...images[0], state: "ready", sha256: "cafe" };
    FakeXhr.last!.answer(200, images[0]);
    expect((await screen.findByRole("status")).textContent).toContain("cafe");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
  });

  it("shows why an upload was refused", async () => {
    loginAs("operator");
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    mockApi({
      "/pools": page([{ id: "local" }]),
      "/volumes": page([]),
      "/images": page([]),
      "POST /images": { id: "i2", state: "pending" },
    });
    renderAt("/storage", { "/storage": <Storage /> });
    fireEvent.click(await screen.findByRole("button", { name: /Upload/ }));
    fireEvent.change(screen.getByLabelText("File"), { target: { files: [file(10, "x.img")] } });
    fireEvent.click(screen.getAllByRole("button", { name: /Upload/ }).at(-1)!);
    await waitFor(() => expect(FakeXhr.last?.url).toBe("/api/v1/images/i2/content"));
    FakeXhr.last!.answer(413, { code: "too_large", message: "the upload is larger than the limit", details: {} });
    expect((await screen.findByRole("alert")).textContent).toContain("larger than the limit");
  });
});
