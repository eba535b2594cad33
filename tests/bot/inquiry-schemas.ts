/** Inquiry schemas the inquiry tests share: a one-property approval and a schema of every type. */
export const approve = {
  type: "object",
  properties: {
    approved: { type: "boolean", description: "Approve the deploy?", required: true },
  },
  additionalProperties: false,
};


export const rich = {
  type: "object",
  required: ["env", "count"],
  properties: {
    env: { type: "string", enum: ["staging", "production"], description: "Where to" },
    count: { type: "integer", description: "How many hosts" },
    ratio: { type: "number" },
    reason: { type: "string", description: "Why" },
    tags: { type: "array" },
    either: { type: ["integer", "string"] },
    go: { type: "boolean" },
  },
  additionalProperties: false,
};
