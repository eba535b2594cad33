/**
 * Where ../shared/reference is: beside the repository, wherever it was cloned (CI clones it
 * into another folder with shared/ next to it).
 */
import { join } from "node:path";

export const REFERENCE_DIR = join(import.meta.dir, "..", "..", "..", "shared", "reference");
