"""Pure domain: values, enums and the decision rules of SPEC §3. No I/O, no frameworks."""
