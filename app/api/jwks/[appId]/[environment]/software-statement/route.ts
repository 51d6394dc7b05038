import { NextResponse } from 'next/server';
import { z } from 'zod';
import { publishedJwks } from '@/lib/apps/queries';

/**
 * The app's public keys for verifying the software statements Registrar signs for it (RFC 7591
 * §2.3), for hospitals that check them. A set of its own, apart from the client authentication
 * keys, so trusting one never means accepting the other. Public, cacheable, only public members.
 */
export async function GET(_request: Request, { params }: { params: Promise<{ appId: string; environment: string }> }) {
  const { appId, environment } = await params;
  if (!z.uuid().safeParse(appId).success) return NextResponse.json({ error: 'not_found' }, { status: 404 });
  // Already decoded once by Next.js, as in the parent route.
  const jwks = await publishedJwks(appId, environment, 'software_statement');
  if (jwks.keys.length === 0) return NextResponse.json({ error: 'not_found' }, { status: 404 });
  return NextResponse.json(jwks, { headers: { 'Cache-Control': 'public, max-age=300', 'Content-Type': 'application/jwk-set+json' } });
}
