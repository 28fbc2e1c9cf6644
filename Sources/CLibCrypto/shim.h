#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The GCM control codes are macros defined as other macros, which Swift does not import. */
static const int clibcrypto_gcm_set_ivlen = EVP_CTRL_GCM_SET_IVLEN;
static const int clibcrypto_gcm_get_tag = EVP_CTRL_GCM_GET_TAG;
static const int clibcrypto_gcm_set_tag = EVP_CTRL_GCM_SET_TAG;
