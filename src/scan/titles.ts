/**
 * Window titles, as set by OSC 0 (icon name and title) and OSC 2 (title), ended by BEL or ST
 * (ECMA-48 8.3.89; xterm's ctlseqs "Operating System Commands"). They are read by the same
 * emulator that draws the screen (xterm's title event), so a title sequence split across
 * events, or inside text the emulator discards, reads as a terminal would read it. Graphical
 * sessions (RDP, ICA, VNC), whose window titles SPS also reads, are not recorded by trailseal.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { screenItems, type ScreenItem } from "./screen.js";

export interface WindowTitle {
  readonly title: string;
  /** Session time (µs) and the caller's reference of the event that set it. */
  readonly time: number;
  readonly ref: number;
}

/** The title an item of a Screen sets, or null. */
export function titleOf(item: ScreenItem): WindowTitle | null {
  return item.kind === "title" ? { title: item.title, time: item.time, ref: item.ref } : null;
}

/** Every window title a session set, in order; `ref` is the event's index. */
export async function* windowTitles(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent> | Iterable<SessionEvent>,
): AsyncGenerator<WindowTitle> {
  for await (const item of screenItems(metadata, events)) {
    const title = titleOf(item);
    if (title !== null) yield title;
  }
}
