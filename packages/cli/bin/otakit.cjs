#!/usr/bin/env node
require('../dist/otakit.cjs');
