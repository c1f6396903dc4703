// Copying text for the person: the async clipboard, else the old selection way (plain http on a
// LAN has no async clipboard).

/** Copies `text`; `host` is where the fallback's hidden textarea may go (a shadow root keeps focus in it). */
export async function copyText(text: string, host: ParentNode & Node): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    host.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
