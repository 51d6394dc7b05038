import 'server-only';
import type { z } from 'zod';

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[]; getter?: () => z.ZodType; left?: z.ZodType; right?: z.ZodType };

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The object shapes a value may be checked against, through wrappers (optional, default, pipe, lazy…). */
function shapesOf(schema: z.ZodType, depth = 0): Array<Record<string, z.ZodType>> | null {
  if (depth > 20) return null;
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return [def.shape!];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return shapesOf(def.innerType!, depth + 1);
    case 'pipe':
      return shapesOf(def.in!, depth + 1);
    case 'lazy':
      return shapesOf(def.getter!(), depth + 1);
    case 'union': {
      const all = (def.options ?? []).map((o) => shapesOf(o, depth + 1));
      // A union with a member that is not an object (a string, say) takes any keys: not checked.
      return all.every((s) => s !== null) ? all.flat() : null;
    }
    case 'intersection': {
      const [l, r] = [shapesOf(def.left!, depth + 1), shapesOf(def.right!, depth + 1)];
      return l && r ? [Object.assign({}, ...l, ...r)] : null;
    }
    default:
      return null;
  }
}

/** The schema a field's value is checked against, unwrapped to where arrays and records are seen. */
function unwrap(schema: z.ZodType, depth = 0): z.ZodType {
  if (depth > 20) return schema;
  const def = defOf(schema);
  if (['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch'].includes(def.type)) return unwrap(def.innerType!, depth + 1);
  if (def.type === 'pipe') return unwrap(def.in!, depth + 1);
  if (def.type === 'lazy') return unwrap(def.getter!(), depth + 1);
  return schema;
}

/**
 * The fields of `value` that `schema` does not know, as dotted paths (e.g.
 * `environments.production.redirect_uris`). zod's plain objects drop unknown keys without a word,
 * so a misspelt field (`redirect_uris` for `redirectUris`) would be accepted and ignored: the API
 * refuses them instead. Records (user-named keys) and arrays are walked into, not checked themselves.
 */
export function unknownFields(schema: z.ZodType, value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  const inner = unwrap(schema);
  const def = defOf(inner);
  const at = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (Array.isArray(value)) {
    return def.type === 'array' ? value.flatMap((item, i) => unknownFields(def.element!, item, at(i))) : [];
  }
  if (def.type === 'record') {
    return Object.entries(value).flatMap(([key, v]) => unknownFields(def.valueType!, v, at(key)));
  }
  const shapes = shapesOf(inner);
  if (!shapes) return [];
  const known = new Map<string, z.ZodType>();
  for (const shape of shapes) for (const [key, s] of Object.entries(shape)) if (!known.has(key)) known.set(key, s);
  return Object.entries(value).flatMap(([key, v]) => {
    const field = known.get(key);
    return field ? unknownFields(field, v, at(key)) : [at(key)];
  });
}
