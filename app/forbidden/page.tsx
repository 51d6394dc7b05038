import Link from 'next/link';

export default function ForbiddenPage() {
  return (
    <main className="mx-auto mt-24 max-w-md space-y-4 px-4">
      <h1 className="text-2xl font-semibold">Not available for your role</h1>
      <p className="text-sm text-slate-600">Your role does not include this page. An admin can change your role in Settings.</p>
      <Link href="/" className="text-sm font-medium underline">
        Back to the overview
      </Link>
    </main>
  );
}
