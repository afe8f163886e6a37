import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVICE_HEALTH_URLS, parseServiceHealthUrls } from '../src/service-health';

describe('CONSOLE_SERVICE_HEALTH_URLS', () => {
  it('defaults to the four services at their default HTTP_PORTs', () => {
    expect(parseServiceHealthUrls(DEFAULT_SERVICE_HEALTH_URLS)).toEqual([
      { name: 'aggregator', url: 'http://127.0.0.1:9401/health/ready' },
      { name: 'tier-engine', url: 'http://127.0.0.1:9402/health/ready' },
      { name: 'warehouse-writer', url: 'http://127.0.0.1:9403/health/ready' },
      { name: 'destinations', url: 'http://127.0.0.1:9404/health/ready' },
    ]);
  });

  it('reads name=url pairs, and nothing from an empty value', () => {
    expect(parseServiceHealthUrls(' engine = http://10.0.0.5:9402/health/ready ,')).toEqual([
      { name: 'engine', url: 'http://10.0.0.5:9402/health/ready' },
    ]);
    expect(parseServiceHealthUrls('')).toEqual([]);
  });

  it('says what is wrong with a bad value', () => {
    expect(parseServiceHealthUrls('http://127.0.0.1:9401/health/ready')).toMatch(/expected name=url pairs/);
    expect(parseServiceHealthUrls('a=ftp://x/y')).toMatch(/http\(s\) URL without user:password@ for a/);
    expect(parseServiceHealthUrls('a=http://u:p@127.0.0.1/')).toMatch(/without user:password@/);
    expect(parseServiceHealthUrls('a=http://127.0.0.1:1/,a=http://127.0.0.1:2/')).toBe('service a is named twice');
    expect(parseServiceHealthUrls('a=not a url')).toMatch(/expected an http\(s\) URL for a/);
  });
});
