/** The tenant and guest `npm start` sets up, and that the demo page signs in to by default. */
export const DEMO_DOMAIN = 'demo.guestpass.test';
export const DEMO_GUEST = 'guest@example.com';
