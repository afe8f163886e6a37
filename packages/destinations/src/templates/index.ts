import type { CrmTemplateId } from '../spec';
import { hubspotContacts } from './hubspot-contacts';
import type { CrmTemplate } from './types';
import { zohoCrm } from './zoho-crm';

export * from './types';
export { hubspotContacts, zohoCrm };

/** The shipped CRM templates by id (the `template` key of a crm-upsert destination). */
export const CRM_TEMPLATE_BY_ID: Record<CrmTemplateId, CrmTemplate> = {
  'zoho-crm': zohoCrm,
  'hubspot-contacts': hubspotContacts,
};
