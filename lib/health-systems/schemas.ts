import { z } from 'zod';

const contactSchema = z.object({
  name: z.string().trim().min(1, 'A contact needs a name.').max(200),
  email: z.email('Enter a valid contact email.').optional(),
  role: z.string().trim().max(200).optional(),
});

/** Tags arrive as one comma-separated string from forms, or as an array from the API. */
const tagsSchema = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => [...new Set((typeof v === 'string' ? v.split(',') : (v ?? [])).map((t) => t.trim()).filter(Boolean))]);

export const healthSystemInputSchema = z.object({
  name: z.string().trim().min(1, 'Give the health system a name.').max(200, 'Keep the name under 200 characters.'),
  notes: z.string().trim().max(5000).optional().transform((v) => v || null),
  contacts: z
    .union([z.string().transform(parseContactLines), z.array(contactSchema)])
    .optional()
    .transform((v) => v ?? [])
    .pipe(z.array(contactSchema).max(50, 'Keep it to 50 contacts.')),
  tags: tagsSchema,
});
export type HealthSystemInput = z.input<typeof healthSystemInputSchema>;

export const updateHealthSystemSchema = healthSystemInputSchema.extend({ id: z.uuid() });

/** Form text, one contact per line: `Name, email, role` (email and role optional). */
function parseContactLines(text: string) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name = '', email, role] = line.split(',').map((p) => p.trim());
      return { name, ...(email ? { email } : {}), ...(role ? { role } : {}) };
    });
}
