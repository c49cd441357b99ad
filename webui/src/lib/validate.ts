/** Client-side checks for the create wizard; the API re-checks everything (422). */

export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function vmNameProblem(name: string, taken: Iterable<string> = []): string | null {
  if (!name) return "A name is required.";
  if (name.length > 63) return "At most 63 characters.";
  if (!NAME_RE.test(name)) return "Lowercase letters, digits and dashes; no dash at either end.";
  for (const t of taken) if (t === name) return "A VM with this name already exists.";
  return null;
}

const KEY_TYPES = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"];

/** One problem per bad line (1-based), for the SSH keys text area. */
export function sshKeyProblems(text: string): { line: number; problem: string }[] {
  const out: { line: number; problem: string }[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const [type, body] = line.split(/\s+/);
    if (!type || !KEY_TYPES.includes(type)) out.push({ line: i + 1, problem: `unknown key type ${JSON.stringify(type ?? "")}` });
    else if (!body || !/^[A-Za-z0-9+/]+={0,3}$/.test(body) || body.length < 60) out.push({ line: i + 1, problem: "the key data is not valid base64" });
  });
  return out;
}

export function sshKeys(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

export function passwordProblem(pw: string, confirm: string): string | null {
  if (!pw) return null; // optional
  if (pw.length < 8) return "At least 8 characters.";
  if (!/[a-zA-Z]/.test(pw) || !/[0-9]/.test(pw)) return "Use letters and digits.";
  if (pw !== confirm) return "The passwords differ.";
  return null;
}
