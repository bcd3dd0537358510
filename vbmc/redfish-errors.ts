// Redfish error bodies (DSP0266 §9.6 / Base message registry): {"error": {code, message,
// @Message.ExtendedInfo: [...]}}. Vendors use their own registries for some messages (iDRAC
// IDRAC.2.x RAC0218, iLO iLO.2.x); the caller picks the id.

export interface RedfishErrorReply {
  status: number;
  body: { error: Record<string, unknown> };
  headers?: Record<string, string>;
}

export const BASE = 'Base.1.16';

export function redfishError(status: number, messageId: string, message: string, related: string[] = [], headers?: Record<string, string>): RedfishErrorReply {
  const id = messageId.includes('.') ? messageId : `${BASE}.${messageId}`;
  return {
    status,
    body: {
      error: {
        code: id,
        message,
        '@Message.ExtendedInfo': [
          {
            '@odata.type': '#Message.v1_1_1.Message',
            MessageId: id,
            Message: message,
            RelatedProperties: related,
            MessageArgs: [],
            Severity: status >= 500 ? 'Critical' : 'Warning',
            MessageSeverity: status >= 500 ? 'Critical' : 'Warning',
            Resolution: 'None.',
          },
        ],
      },
    },
    ...(headers === undefined ? {} : { headers }),
  };
}
