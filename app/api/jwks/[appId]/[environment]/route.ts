import { NextResponse } from 'next/server';
import { z } from 'zod';
import { publishedJwks } from '@/lib/apps/queries';

/**
 * The app's public keys for private_key_jwt, fetched by hospitals' authorization servers.
 * Public by design (RFC 7591 jwks_uri): only public members, cacheable, no authentication.
 */
export async function GET(_request: Request, { params }: { params: Promise<{ appId: string; environment: string }> }) {
  const { appId, environment } = await params;
  if (!z.uuid().safeParse(appId).success) return NextResponse.json({ error: 'not_found' }, { status: 404 });
  // Next.js hands the segment over decoded already (register.ts encodes it once): a second decode
  // would turn "100%" into a 500 and "a%41" into another environment.
  const jwks = await publishedJwks(appId, environment);
  if (jwks.keys.length === 0) return NextResponse.json({ error: 'not_found' }, { status: 404 });
  return NextResponse.json(jwks, { headers: { 'Cache-Control': 'public, max-age=300', 'Content-Type': 'application/jwk-set+json' } });
}
