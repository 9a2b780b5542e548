// The version every notification names, shared by the workflow that builds the events and the
// activity that delivers them (workflow code may import no activity code, so it lives here).
export const NOTIFICATION_SCHEMA = 'bluegreen.notification/v1';
