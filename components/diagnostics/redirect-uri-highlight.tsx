// Presentational, no hooks: usable from server and client components alike.
import type { HighlightSegment } from '@/lib/redirect-uris';

const NAMES: Record<string, string> = { ' ': 'space', '\t': 'tab', '\n': 'newline', '\r': 'carriage return' };
const SHOWN: Record<string, string> = { ' ': '␣', '\t': '⇥', '\n': '↵', '\r': '␍' };

/** Whitespace and control characters in a changed stretch are drawn as symbols so they can be seen. */
function shown(text: string): string {
  return [...text].map((ch) => SHOWN[ch] ?? (/[\p{Cc}\p{Cf}]/u.test(ch) ? '�' : ch)).join('');
}

/** What a screen reader says for a changed stretch: whitespace by name, the rest as is. */
function spoken(text: string): string {
  return [...text].map((ch) => (NAMES[ch] ? ` ${NAMES[ch]} ` : /[\p{Cc}\p{Cf}]/u.test(ch) ? ` U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} ` : ch)).join('').trim();
}

function Line({ segments, side }: { segments: HighlightSegment[]; side: 'registered' | 'presented' }) {
  const own = side === 'registered' ? 'registered-only' : 'presented-only';
  const other = side === 'registered' ? 'presented-only' : 'registered-only';
  return (
    <code className="block whitespace-pre-wrap break-all rounded bg-slate-50 px-2 py-1 font-mono text-sm" data-testid={`highlight-${side}`}>
      {segments
        .filter((s) => s.kind !== other)
        .map((s, i) => {
          if (s.kind !== own) return <span key={i}>{s.text}</span>;
          const Tag = side === 'registered' ? 'del' : 'ins';
          return (
            <Tag
              key={i}
              title={`only in the ${side} URI: ${spoken(s.text)}`}
              className={
                side === 'registered'
                  ? 'rounded-sm bg-red-100 text-red-900 decoration-red-700 decoration-2 line-through outline outline-1 outline-red-300'
                  : 'rounded-sm bg-green-100 text-green-900 underline decoration-green-700 decoration-2 underline-offset-2 outline outline-1 outline-green-400'
              }
            >
              <span className="sr-only">[only in the {side} URI: </span>
              <span aria-hidden="true">{shown(s.text)}</span>
              <span className="sr-only">{spoken(s.text)}]</span>
            </Tag>
          );
        })}
    </code>
  );
}

/**
 * The closest registered redirect URI above the presented one, character by character (from
 * lib/redirect-uris `highlight`): characters only in the registered URI are struck through in red
 * (<del>), characters only in the presented URI are underlined in green (<ins>), and each change
 * also carries text for screen readers.
 */
export function RedirectUriHighlight({
  segments,
  registeredLabel = 'Registered',
  presentedLabel = 'Presented',
}: {
  segments: HighlightSegment[];
  registeredLabel?: string;
  presentedLabel?: string;
}) {
  const changed = segments.some((s) => s.kind !== 'same');
  return (
    <div className="space-y-2" data-testid="redirect-uri-highlight">
      <dl className="space-y-2">
        <div>
          <dt className="text-xs font-medium uppercase text-slate-500">{registeredLabel}</dt>
          <dd>
            <Line segments={segments} side="registered" />
          </dd>
        </div>
        <div>
          <dt className="text-xs font-medium uppercase text-slate-500">{presentedLabel}</dt>
          <dd>
            <Line segments={segments} side="presented" />
          </dd>
        </div>
      </dl>
      <p className="text-xs text-slate-500">
        {changed ? (
          <>
            <del className="bg-red-100 px-0.5 text-red-900">struck through</del>: only in “{registeredLabel}” ·{' '}
            <ins className="bg-green-100 px-0.5 text-green-900">underlined</ins>: only in “{presentedLabel}” · ␣ marks a space.
          </>
        ) : (
          'Identical, character for character.'
        )}
      </p>
    </div>
  );
}
