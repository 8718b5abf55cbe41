// Backstage's catalog backend alone, as `make bench-compare` runs it: no frontend, no other plugin.
// Configuration comes from the app-config rendered by compare.py (`node backend.js --config FILE`).
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.start();
