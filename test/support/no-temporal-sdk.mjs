// Loaded with `node --import` into a CLI process whose path must not touch the Temporal SDK: any
// import of @temporalio/* fails, so a silent fallback to the full client cannot pass for the light path.
import { register } from 'node:module';

if (!process.env.BG_NO_SDK_HOOKED) {
  process.env.BG_NO_SDK_HOOKED = '1';
  register(import.meta.url);
}

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@temporalio/')) throw new Error(`this process must not load ${specifier}`);
  return next(specifier, context);
}
