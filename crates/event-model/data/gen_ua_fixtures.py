#!/usr/bin/env python3
"""Extracts a compact User-Agent test table from matomo-org/device-detector's
fixtures (LGPL-3.0): only the UA strings and the expected values, mapped to
the names Plausible shows (its `browser_name/1`, major.minor versions), are
kept, as test data. Not shipped in any binary.

Usage (a checkout of device-detector, e.g. a bare mirror):
    python3 crates/event-model/data/gen_ua_fixtures.py <device-detector git dir>
Writes crates/event-model/tests/data/ua_browsers.tsv.gz and ua_bots.tsv.gz.
"""
import gzip, os, subprocess, sys, yaml

repo = sys.argv[1]
out_dir = os.path.join(os.path.dirname(__file__), '..', 'tests', 'data')

def show(path):
    return subprocess.run(['git', '-C', repo, 'show', f'HEAD:{path}'],
                          capture_output=True, check=True).stdout

def files():
    names = subprocess.run(['git', '-C', repo, 'ls-tree', '--name-only', 'HEAD', 'Tests/fixtures/'],
                           capture_output=True, check=True, text=True).stdout.split()
    return [n for n in names if n.endswith('.yml')]

# Plausible's browser_name/1 (lib/plausible/ingestion/event.ex).
BROWSER = {
    'Mobile Safari': 'Safari', 'Chrome Mobile': 'Chrome', 'Chrome Mobile iOS': 'Chrome',
    'Firefox Mobile': 'Firefox', 'Firefox Mobile iOS': 'Firefox', 'Opera Mobile': 'Opera',
    'Opera Mini': 'Opera', 'Opera Mini iOS': 'Opera', 'Yandex Browser Lite': 'Yandex Browser',
    'Chrome Webview': 'Mobile App',
}
DEVICE = {
    'smartphone': 'Mobile', 'phablet': 'Mobile', 'feature phone': 'Mobile',
    'wearable': 'Mobile', 'portable media player': 'Mobile', 'camera': 'Mobile',
    'tablet': 'Tablet', 'desktop': 'Desktop',
}

def major_minor(v):
    return '.'.join(str(v or '').split('.')[:2])

def clean(s):
    return str(s).replace('\t', ' ').replace('\n', ' ')

browsers, bots = [], []
for name in files():
    data = yaml.safe_load(show(name)) or []
    for case in data:
        ua = case.get('user_agent')
        if not ua or case.get('headers'):
            continue  # client-hints cases need headers we do not read
        if name.endswith('bots.yml'):
            bots.append(clean(ua))
            continue
        client = case.get('client') or {}
        if client.get('type') != 'browser':
            continue
        os_ = case.get('os') or {}
        device = (case.get('device') or {}).get('type') or ''
        browsers.append('\t'.join([
            clean(ua),
            BROWSER.get(client.get('name', ''), client.get('name', '')),
            major_minor(client.get('version')),
            os_.get('name', '') or '',
            major_minor(os_.get('version')),
            DEVICE.get(device, device or ''),
            name.rsplit('/', 1)[-1],
        ]))

seen = set()
browsers = [b for b in browsers if not (b.split('\t')[0] in seen or seen.add(b.split('\t')[0]))]
bots = sorted(set(bots))
header = '# ua\tbrowser\tbrowser_version\tos\tos_version\tdevice\tfixture\n'
with gzip.open(os.path.join(out_dir, 'ua_browsers.tsv.gz'), 'wt', encoding='utf-8', compresslevel=9, ) as f:
    f.write(header)
    f.write('\n'.join(browsers) + '\n')
with gzip.open(os.path.join(out_dir, 'ua_bots.tsv.gz'), 'wt', encoding='utf-8', compresslevel=9) as f:
    f.write('# ua\n')
    f.write('\n'.join(bots) + '\n')
print(len(browsers), 'browser UAs,', len(bots), 'bot UAs')
