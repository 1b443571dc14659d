// nodemailer's SMTP transport: only an app with EMAIL_TRANSPORT=smtp needs it, and
// only on its first mail.
export { createTransport } from 'nodemailer';
