#!/usr/bin/env python3
"""Makes the throwaway PKI of the store's TLS tests in the folder given: a fleet CA, a server
certificate for 127.0.0.1, a unit's client certificate, and the bad ones (another CA, an expired
server certificate, an expired client certificate, a server certificate of another CA). Keys are P-256; nothing here is ever reused."""
import datetime
import ipaddress
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def save(name, k, cert):
    with open(f"{out}/{name}.key", "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(f"{out}/{name}.pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def ca(name):
    k = key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(k, hashes.SHA256()))
    save(name, k, cert)
    return k, cert


def leaf(name, ca_key, ca_cert, server, start, end):
    k = key()
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
         .issuer_name(ca_cert.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    save(name, k, b.sign(ca_key, hashes.SHA256()))


fleet_key, fleet = ca("fleet-ca")
other_key, other = ca("other-ca")
valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
expired = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
leaf("server", fleet_key, fleet, True, *valid)
leaf("server-expired", fleet_key, fleet, True, *expired)
leaf("unit", fleet_key, fleet, False, *valid)
leaf("unit-expired", fleet_key, fleet, False, *expired)
leaf("unit-other-ca", other_key, other, False, *valid)
leaf("server-other-ca", other_key, other, True, *valid)
