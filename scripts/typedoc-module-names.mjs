// A typedoc plugin: names each module by the import path users type (`hatchway/server`,
// `hatchway/middleware/cors`), not by its place in the repository (`src/server`,
// `middleware/cors`). A module whose `@module` tag already names it keeps that name.
import { Converter, ReflectionKind } from 'typedoc';

/** `src` → `hatchway`, `src/server` → `hatchway/server`, `middleware/cors` → `hatchway/middleware/cors`. */
export function importPath(name) {
  if (name === 'hatchway' || name.startsWith('hatchway/')) return name;
  const path = name.replace(/(^|\/)index$/, '').replace(/\.ts$/, '');
  if (path === 'src' || path === '') return 'hatchway';
  if (path.startsWith('src/')) return `hatchway/${path.slice(4)}`;
  return `hatchway/${path}`;
}

export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) mod.name = importPath(mod.name);
  });
}
