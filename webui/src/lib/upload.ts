/**
 * Uploading a file to the API with progress: fetch() cannot report upload
 * progress, XMLHttpRequest can. Same credentials and error shape as client.ts.
 */
import { loadAuth, saveAuth } from "../api/auth";
import { ApiError, Unreachable, url } from "../api/client";

export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  query?: Record<string, string | undefined>;
}

/** PUT the file's bytes to `path` (under /api/v1); resolves with the JSON answer. */
export function uploadFile<T>(path: string, file: Blob, opts: UploadOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url(path, opts.query));
    xhr.withCredentials = false; // same origin: the session cookie goes anyway
    const auth = loadAuth();
    if (auth?.via === "token" && auth.token) xhr.setRequestHeader("Authorization", `Bearer ${auth.token}`);
    else if (auth?.csrf) xhr.setRequestHeader("X-CSRF-Token", auth.csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => opts.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        opts.onProgress?.({ loaded: file.size, total: file.size });
        resolve(data as T);
        return;
      }
      const d = (data ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
      if (xhr.status === 401) saveAuth(null);
      reject(new ApiError(xhr.status, d.code ?? `http_${xhr.status}`, d.message ?? xhr.statusText, d.details ?? {}));
    };
    xhr.onerror = () => reject(new Unreachable("the upload did not reach the host serving this page"));
    xhr.onabort = () => reject(new DOMException("the upload was cancelled", "AbortError"));
    opts.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
